"""``python -m dsc_calc``: the same CLI as the ``dsc-calc`` command."""

from dsc_calc.cli import main

if __name__ == "__main__":
    main()
