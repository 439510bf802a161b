"""German strings."""

STRINGS: dict[str, str] = {
    "no_answer": (
        "Dazu habe ich in den für Sie freigegebenen Dokumenten nichts gefunden, und ich rate nicht. "
        "Versuchen Sie andere Worte oder fragen Sie das Büro für internationale Beziehungen."
    ),
    "empty_store": "Es wurden noch keine Dokumente eingelesen.",
    "sources": "Quellen",
    "question_too_long": "Ihre Nachricht ist zu lang ({length} Zeichen). Bitte bleiben Sie unter {limit}.",
}
