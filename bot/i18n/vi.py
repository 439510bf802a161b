"""Vietnamese strings."""

STRINGS: dict[str, str] = {
    "no_answer": (
        "Tôi không tìm thấy thông tin này trong các tài liệu bạn được phép xem, nên sẽ không đoán. "
        "Hãy thử diễn đạt khác hoặc liên hệ văn phòng hợp tác quốc tế."
    ),
    "empty_store": "Chưa có tài liệu nào được nạp.",
    "sources": "Nguồn",
    "question_too_long": "Tin nhắn quá dài ({length} ký tự). Vui lòng giữ câu hỏi dưới {limit} ký tự.",
}
