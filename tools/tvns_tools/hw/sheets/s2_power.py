from .kit import Sheet


def draw():
    return Sheet(2, "power", "power")
