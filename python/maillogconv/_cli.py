"""The ``maillogconv`` command installed with the package: the same code as the binary."""
import sys

from . import _native


def main() -> None:
    sys.stdout.flush()
    sys.exit(_native.main(["maillogconv"] + sys.argv[1:]))


if __name__ == "__main__":
    main()
