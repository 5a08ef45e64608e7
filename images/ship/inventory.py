"""Print a Ship image's inventory as JSON, from dpkg-query.

images/build.sh runs this inside the image's base root filesystem
(docker run --network none <base> python3 - < inventory.py) and copies the
output into the build context as inventory.json; the image carries it at
/usr/share/ship/inventory.json, where Ship's GET /capabilities reads it.

Versions are upstream versions: the Debian epoch ("1:"), revision ("-1")
and repack suffixes ("+dfsg", "~deb12u1") are dropped. Output is
deterministic (sorted keys) so that the build context hash only changes
when the packages do.
"""

import json
import platform
import re
import subprocess

# Command-line tools worth telling an agent about, by the Debian package
# that ships them.
TOOLS = {
    "bash": "bash",
    "curl": "curl",
    "git": "git",
    "less": "less",
    "nft": "nftables",
    "node": "nodejs",
    "npm": "npm",
    "ps": "procps",
    "sudo": "sudo",
    "tini": "tini",
}

# python3-* packages that are not importable distributions.
NOT_PACKAGES = {"python3-minimal"}


def upstream(version):
    """Return the upstream part of a Debian version."""
    version = re.sub(r"^[0-9]+:", "", version)
    if "-" in version:
        version = version.rsplit("-", 1)[0]
    return re.split(r"[+~]", version, maxsplit=1)[0]


def installed():
    """Return {package: upstream version} of the installed packages."""
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package}\t${Version}\t${db:Status-Abbrev}\n"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pkgs = {}
    for line in out.splitlines():
        name, version, status = line.split("\t")
        if status.startswith("ii"):
            pkgs[name.split(":")[0]] = upstream(version)
    return pkgs


def main():
    pkgs = installed()
    inventory = {
        "source": "dpkg-query",
        "python": {
            "version": pkgs.get("python3", platform.python_version()),
            "ipykernel": pkgs.get("python3-ipykernel", ""),
        },
        "packages": {
            name[len("python3-"):]: version
            for name, version in pkgs.items()
            if name.startswith("python3-") and name not in NOT_PACKAGES
        },
        "tools": {tool: pkgs[pkg] for tool, pkg in TOOLS.items() if pkg in pkgs},
    }
    print(json.dumps(inventory, indent=1, sort_keys=True))


main()
