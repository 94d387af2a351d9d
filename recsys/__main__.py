from recsys.cli import console

console()
