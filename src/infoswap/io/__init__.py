"""Reading and writing user files safely."""
