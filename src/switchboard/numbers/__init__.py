"""Phone numbers: the inventory carriers offer and the numbers the resource owns."""
