from .kit import Sheet


def draw():
    return Sheet(6, "sense", "sense")
