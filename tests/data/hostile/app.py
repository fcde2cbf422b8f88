"""The target of the hostile-edit corpus: a check and a bench that do nothing."""


def check():
    print("ok")


def bench():
    print("METRIC t=1")
