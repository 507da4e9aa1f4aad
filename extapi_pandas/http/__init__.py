"""The fetch stage: aiohttp client, auth, guard rails, decompression."""

__all__: list[str] = []
