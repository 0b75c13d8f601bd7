"""The networks, as short explicit `nn.Module`s, and converters from upstream formats."""
