"""Starts moto's stand-alone server after patching the gaps the AWS provider 5.100.0 trips over.

Usage: python3 test/emulator/moto_launcher.py -H 127.0.0.1 -p PORT

Each patch below names the gap it fills (see shared notes, "Terraform against the local AWS
emulator"). The product is never changed to suit the emulator; only the emulator is.
"""
import sys


def apply_patches() -> None:
    """Patches moto's response classes in place. Add one function per gap."""


def main() -> None:
    try:
        import moto.server
    except ImportError:
        sys.stderr.write(
            "moto is not installed for this Python. Install it with: "
            'python3 -m pip install "moto[server]==5.2.1"\n'
        )
        sys.exit(3)
    apply_patches()
    moto.server.main(sys.argv[1:])


if __name__ == "__main__":
    main()
