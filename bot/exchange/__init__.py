"""Exchange connectors: the only door between the bot and a venue."""
