"""The networks, as short explicit `nn.Module`s, each wired once by its `stages` (see `stages.py`)."""
