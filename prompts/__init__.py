"""The answer prompts: this folder is installed as the package bot.prompts (see pyproject.toml)."""
