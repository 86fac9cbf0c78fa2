"""``python -m lienthong.cli``: the ``lienthong`` command, where no script was installed."""

from lienthong.cli import main

if __name__ == "__main__":  # importing the module (the architecture test does) runs nothing
    main(prog_name="lienthong")
