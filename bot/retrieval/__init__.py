"""Dense and sparse retrieval, fusion and the access filter."""
