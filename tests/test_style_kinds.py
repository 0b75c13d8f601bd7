"""Which styles mix, which are read from a style image, and the groups presets are shown in
(`painterly_common.style_kinds`): the rule the engine, the Krita panel and the GIMP dialog share."""

from __future__ import annotations

from painterly_common import style_kinds as sk

PRESETS = [
    {"name": "candy", "display_name": "Candy", "method": sk.NETWORK},
    {"name": "blue_swirls", "display_name": "Blue Swirls", "method": sk.MULTISTYLE},
    {"name": "starry_night", "display_name": "The Starry Night", "method": sk.ARBITRARY},
    {"name": "terracotta", "display_name": "Terracotta", "method": sk.MULTISTYLE},
    {"name": "from_the_future", "display_name": "New Kind", "method": "hologram"},
]


def test_the_methods_of_presets_and_style_images():
    assert sk.method_of("candy", PRESETS) == sk.NETWORK
    assert sk.method_of("terracotta", PRESETS) == sk.MULTISTYLE
    assert sk.method_of("/home/me/painting.jpg", PRESETS) == sk.ARBITRARY
    assert sk.method_of("nothing_known", PRESETS) is None
    assert [sk.has_style_image(m) for m in (sk.NETWORK, sk.ARBITRARY, sk.MULTISTYLE)] == [False, True, False]
    assert [sk.mixes(m) for m in (sk.NETWORK, sk.ARBITRARY, sk.MULTISTYLE)] == [False, True, True]


def test_what_mixes_with_what():
    assert sk.mix_refusal([("Blue Swirls", sk.MULTISTYLE), ("Terracotta", sk.MULTISTYLE)]) is None
    assert sk.mix_refusal([("The Starry Night", sk.ARBITRARY), ("a style image", sk.ARBITRARY)]) is None
    assert sk.mix_refusal([("Candy", sk.NETWORK)]) is None, "one style alone is no mix"
    network = sk.mix_refusal([("The Starry Night", sk.ARBITRARY), ("Candy", sk.NETWORK)])
    assert network is not None and network.startswith("Candy is a network preset") and "\n" not in network
    across = sk.mix_refusal([("Terracotta", sk.MULTISTYLE), ("The Starry Night", sk.ARBITRARY)])
    assert across is not None and "Terracotta" in across and "The Starry Night" in across
    assert "mix looks with looks" in across
    # a name no list describes is left to the engine, which knows every preset
    assert sk.mix_refusal([("Terracotta", sk.MULTISTYLE), ("unknown", None)]) is None


def test_presets_are_grouped_in_the_groups_order():
    groups = sk.grouped(PRESETS)
    assert [g.method for g, _ in groups] == [sk.NETWORK, sk.ARBITRARY, sk.MULTISTYLE, "hologram"]
    assert [[p["name"] for p in members] for _, members in groups] == [
        ["candy"],
        ["starry_night"],
        ["blue_swirls", "terracotta"],
        ["from_the_future"],
    ]
    assert groups[-1][0].title == "Hologram", "an unknown method still gets a heading"
    assert sk.grouped([]) == []
