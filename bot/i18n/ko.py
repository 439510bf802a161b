"""Korean strings."""

STRINGS: dict[str, str] = {
    "no_answer": (
        "열람 가능한 문서에서 이 질문에 대한 근거를 찾지 못해 추측으로 답하지 않겠습니다. "
        "다른 표현으로 질문하시거나 국제교류 담당 부서에 문의해 주세요."
    ),
    "empty_store": "아직 등록된 문서가 없습니다.",
    "sources": "출처",
    "question_too_long": "메시지가 너무 깁니다({length}자). 질문은 {limit}자 이내로 보내 주세요.",
}
