"""``mlinterview kernels ...``: install and list the candidate kernelspecs."""

from __future__ import annotations

import json
from pathlib import Path

from ..cli import CommandError
from .install import KERNEL_NAMES, install_kernelspecs, install_server_extension_config, list_kernelspecs


def cmd_install(args) -> int:
    if args.prefix and args.user:
        raise CommandError("choose one of --prefix and --user")
    try:
        folders = install_kernelspecs(prefix=args.prefix, user=args.user)
    except OSError as error:
        raise CommandError(f"could not install the kernelspecs: {error}; try --user or --prefix DIR") from None
    for folder in folders:
        print(f"installed {Path(folder).name} into {folder}")
    if args.with_server_extension:
        if not args.prefix:
            raise CommandError("--with-server-extension needs --prefix (the environment the Jupyter server runs from)")
        written = install_server_extension_config(args.prefix)
        print("enabled the cell-history server extension and JupyterLab's page config: " + ", ".join(map(str, written)))
    return 0


def cmd_list(args) -> int:
    installed = list_kernelspecs()
    for name in KERNEL_NAMES:
        folder = installed.get(name)
        if folder is None:
            print(f"{name:<18} not installed (run: mlinterview kernels install)")
            continue
        spec = json.loads((Path(folder) / "kernel.json").read_text(encoding="utf-8"))
        print(f"{name:<18} {spec.get('display_name', '')}  {folder}")
    return 0 if len(installed) == len(KERNEL_NAMES) else 1


def add_subcommands(subparsers) -> None:
    kernels = subparsers.add_parser("kernels", help="install and list the candidate kernelspecs (CPU, GPU)")
    kernels.set_defaults(subparser=kernels)
    sub = kernels.add_subparsers(dest="kernels_command", metavar="ACTION")
    install = sub.add_parser("install", help="install mlinterview-cpu and mlinterview-gpu for Jupyter")
    install.add_argument("--prefix", default=None, help="install into PREFIX/share/jupyter/kernels (e.g. a virtual environment)")
    install.add_argument("--user", action="store_true", help="install into the user's Jupyter data folder")
    install.add_argument(
        "--with-server-extension", action="store_true",
        help="also enable the cell-history server extension in PREFIX (pip does this itself except for editable installs)",
    )
    install.set_defaults(handler=cmd_install)
    listing = sub.add_parser("list", help="show where the mlinterview kernelspecs are installed (exit 1 if one is missing)")
    listing.set_defaults(handler=cmd_list)
