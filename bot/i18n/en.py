"""English strings."""

STRINGS: dict[str, str] = {
    "no_answer": (
        "I could not find this in the documents available to you, so I will not guess. "
        "Try other words, or ask the international-exchange office."
    ),
    "empty_store": "No documents have been ingested yet.",
    "sources": "Sources",
    "question_too_long": "Your message is too long ({length} characters). Please keep questions under {limit}.",
}
