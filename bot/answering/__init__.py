"""Answerers: extractive by default, an OpenAI-compatible model when configured."""
