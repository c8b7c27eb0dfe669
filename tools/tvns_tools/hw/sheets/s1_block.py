from .kit import Sheet


def draw():
    return Sheet(1, "block", "block")
