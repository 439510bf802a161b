"""Loading and indexing the city's documents."""
