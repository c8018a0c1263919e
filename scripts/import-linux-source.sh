#!/bin/sh
# Turns Debian's linux-source tarball into a git tree patchgate can mirror and apply series to.
#
#   scripts/import-linux-source.sh DEST [TARBALL]
#
# TARBALL defaults to /usr/src/linux-source-6.1.tar.xz (apt-get install linux-source-6.1).
# DEST becomes a non-bare repository with one commit on `main` holding the tarball's tree as is,
# except that the Debian block at the end of .gitignore (`/*` + `!/debian/`, which hides the whole
# tree from git) is removed. Dates and identity are fixed, so the commit id is the same on every
# machine for the same tarball. The objects are packed at once (else the first `git am` starts a
# long background auto-gc) and gc.auto is 0.
#
# Idempotent: when DEST already holds the import of this tarball it prints the commit and exits 0.
# Prints the commit id on stdout; progress on stderr.
set -eu

usage() {
	echo "usage: $0 DEST [TARBALL]" >&2
	exit 2
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
DEST=$1
TARBALL=${2:-/usr/src/linux-source-6.1.tar.xz}

if [ ! -r "$TARBALL" ]; then
	echo "$0: $TARBALL not found (apt-get install linux-source-6.1)" >&2
	exit 2
fi

NAME=$(basename "$TARBALL")
NAME=${NAME%.tar.*}
SIZE=$(stat -c %s "$TARBALL")
MTIME=$(stat -c %Y "$TARBALL")
VERSION=$(dpkg-query -W -f='${Version}' "$NAME" 2>/dev/null || true)
MARK="Imported-from: $NAME.tar.xz size=$SIZE mtime=$MTIME"

export LC_ALL=C GIT_TERMINAL_PROMPT=0
git_() {
	dir=$1
	shift
	git -C "$dir" -c core.hooksPath=/dev/null -c user.name=patchgate -c user.email=patchgate@localhost "$@"
}

if [ -e "$DEST" ]; then
	if head=$(git -C "$DEST" rev-parse --verify -q refs/heads/main 2>/dev/null) &&
		git -C "$DEST" log -1 --format=%B "$head" | grep -qxF "$MARK"; then
		echo "$DEST already holds $NAME at $head" >&2
		echo "$head"
		exit 0
	fi
	echo "$0: $DEST exists and is not an import of $TARBALL; remove it first" >&2
	exit 1
fi

TMP="$DEST.import-$$"
trap 'rm -rf "$TMP"' EXIT INT TERM
rm -rf "$TMP"
mkdir -p "$TMP"

start=$(date +%s)
echo "extracting $TARBALL" >&2
tar -xJf "$TARBALL" -C "$TMP" --strip-components=1 --no-same-owner

# Debian's block hides every top-level path from git; upstream's .gitignore is everything above it
perl -0pi -e 's/\n#\n# Debian packaging:[^\n]*\n(#[^\n]*\n)*\/\*\n!\/debian\/\n?/\n/s' "$TMP/.gitignore"
if grep -qx '/\*' "$TMP/.gitignore"; then
	echo "$0: could not remove the Debian /* block from .gitignore" >&2
	exit 1
fi

git init -q -b main "$TMP"
git -C "$TMP" config gc.auto 0
git -C "$TMP" config maintenance.auto false
git -C "$TMP" config core.bigFileThreshold 16m
echo "adding files" >&2
# -f: the tree is the tarball's, whatever its nested .gitignore files say
git -C "$TMP" add -A -f .
DATE="$MTIME +0000"
GIT_AUTHOR_DATE=$DATE GIT_COMMITTER_DATE=$DATE git_ "$TMP" commit -q --no-verify \
	-m "$NAME${VERSION:+ $VERSION} (Debian source)" \
	-m "The tree of Debian's $NAME package${VERSION:+ $VERSION}, imported by patchgate's
scripts/import-linux-source.sh. Only change: the Debian block at the end of .gitignore is removed." \
	-m "$MARK"
echo "packing" >&2
git -C "$TMP" repack -a -d -q
git -C "$TMP" prune-packed

mv "$TMP" "$DEST"
trap - EXIT INT TERM
head=$(git -C "$DEST" rev-parse refs/heads/main)
echo "imported $NAME into $DEST at $head in $(($(date +%s) - start)) s" >&2
echo "$head"
