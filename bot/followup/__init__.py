"""What happens after an answer: the question log, votes, statistics."""
