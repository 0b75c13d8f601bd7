"""The CI scripts' own logic, run for real in isolation (the scripts themselves install editors as root).

`.ci/debian-root.sh` (the GIMP 3.0 and the sid roots) takes the Debian archive for debootstrap from
this machine's apt sources (`debian_mirror`): here that function runs in bash, sourced from the script, against fake
`etc/apt` trees in a temporary folder. Host names below are reserved ones (`.invalid`).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETUP_GIMP = ROOT / ".ci" / "debian-root.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")

DEBIAN_SOURCES = """\
Types: deb
# a comment inside the stanza, as Debian's own file has
URIs: http://mirror.invalid/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.invalid/debian-security
Suites: bookworm-security
Components: main
"""
NODESOURCE = """\
Types: deb
URIs: https://nodejs.invalid/node_20.x
Suites: nodistro
Components: main
"""


def fake_root(tmp_path: Path, files: dict[str, str], codename: str | None = "bookworm") -> Path:
    root = tmp_path / "root"
    (root / "etc" / "apt" / "sources.list.d").mkdir(parents=True)
    if codename is not None:
        (root / "etc" / "os-release").write_text(f'PRETTY_NAME="Debian"\nVERSION_CODENAME={codename}\nID=debian\n')
    for name, text in files.items():
        (root / "etc" / "apt" / name).write_text(text)
    return root


def mirror(root: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    # under the script's own strict mode, so that the function works where it is used
    return subprocess.run(
        ["bash", "-c", 'set -euo pipefail; source "$1"; debian_mirror "$2"', "bash", str(SETUP_GIMP), str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )


def found(root: Path) -> str:
    done = mirror(root)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_deb822_sources_give_the_archive_not_security_nor_third_party(tmp_path):
    # third-party files that apt reads first (names sort before debian.sources)
    root = fake_root(
        tmp_path,
        {
            "sources.list.d/a-nodesource.sources": NODESOURCE,
            "sources.list.d/cloud-sdk.list": "deb https://cloud.invalid/apt cloud-sdk-bookworm main\n",
            "sources.list.d/debian.sources": DEBIAN_SOURCES,
        },
    )
    assert found(root) == "http://mirror.invalid/debian"


def test_one_line_sources(tmp_path):
    root = fake_root(
        tmp_path,
        {
            "sources.list": """\
# deb http://commented.invalid/debian bookworm main
deb-src http://src.invalid/debian bookworm main
deb http://security.invalid/debian-security bookworm-security main
deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://ftp.invalid/debian/ bookworm main contrib
deb http://later.invalid/debian bookworm main
"""
        },
    )
    assert found(root) == "http://ftp.invalid/debian"


def test_a_third_party_repository_naming_the_codename_does_not_win(tmp_path):
    root = fake_root(
        tmp_path,
        {
            "sources.list": "deb https://docker.invalid/linux/debian bookworm stable\n"  # no main: not an archive
            "deb https://php.invalid/php/ bookworm main\n",  # codename only
            "sources.list.d/debian.list": "deb http://mirror.invalid/debian bookworm main\n",  # codename and path
        },
    )
    assert found(root) == "http://mirror.invalid/debian"


def test_a_mirror_known_by_its_path_only(tmp_path):
    # a suite name instead of the codename, and no os-release at all
    root = fake_root(
        tmp_path,
        {"sources.list.d/local.list": "deb [trusted=yes] file:/srv/mirror/debian stable main\n"},
        codename=None,
    )
    assert found(root) == "file:/srv/mirror/debian"


def test_disabled_stanzas_and_inline_keys(tmp_path):
    root = fake_root(
        tmp_path,
        {
            "sources.list.d/debian.sources": """\
Types: deb
URIs: http://off.invalid/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb deb-src
URIs: http://first.invalid/debian
 http://second.invalid/debian
Suites: bookworm
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 URIs: http://inside-the-key.invalid/debian
 -----END PGP PUBLIC KEY BLOCK-----
"""
        },
    )
    assert found(root) == "http://first.invalid/debian"


@pytest.mark.parametrize(
    "files",
    [
        {},
        {
            "sources.list.d/nodesource.sources": NODESOURCE,
            "sources.list.d/cloud-sdk.list": "deb https://cloud.invalid/apt cloud-sdk main\n",
        },
    ],
)
def test_no_debian_archive_fails_saying_what_to_do(tmp_path, files):
    done = mirror(fake_root(tmp_path, files))
    assert done.returncode == 1 and done.stdout == ""
    assert "no Debian archive found" in done.stderr and "set DEBIAN_MIRROR" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_debian_mirror_wins(tmp_path):
    done = mirror(
        fake_root(tmp_path, {"sources.list.d/debian.sources": DEBIAN_SOURCES}),
        {"DEBIAN_MIRROR": "http://chosen.invalid/debian"},
    )
    assert done.returncode == 0 and done.stdout == "http://chosen.invalid/debian\n"


def test_sourcing_the_script_runs_nothing_else(tmp_path):
    done = subprocess.run(
        [
            "bash",
            "-c",
            'set -euo pipefail; cd "$2"; source "$1"; pwd; type -t debian_mirror',
            "bash",
            str(SETUP_GIMP),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{tmp_path}\nfunction\n" and done.stderr == ""


def test_no_package_mirror_host_is_written_in_the_project():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    # pieces joined here, so that this file itself does not name them
    hosts = [
        "deb" + ".debian.org",
        "ftp" + ".debian.org",
        "security" + ".debian.org",
        "httpredir" + ".debian.org",
        "archive" + ".ubuntu.com",
        "security" + ".ubuntu.com",
    ]
    args = [a for h in hosts for a in ("-e", h)]
    done = subprocess.run(
        ["git", "grep", "-n", "-I", "-F", "--untracked", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, f"package mirror host names in the project:\n{done.stdout}"
