# Shared by hack/run and hack/test. Source it; do not run it.
set -euo pipefail

CRIX_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Installs the packages listed in hack/packages that are not installed yet.
crix_install_deps() {
	local missing=() pkg
	while read -r pkg; do
		[[ -z "$pkg" || "$pkg" == \#* ]] && continue
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$pkg")
	done <"$CRIX_TOP/hack/packages"
	[[ ${#missing[@]} -eq 0 ]] && return 0
	echo "hack: installing ${missing[*]}" >&2
	local sudo=()
	[[ $(id -u) -eq 0 ]] || sudo=(sudo)
	"${sudo[@]}" apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >&2
}

# crix_build DIR [cmake args...]: configure (once) and build into DIR.
crix_build() {
	local dir=$1
	shift
	cmake -S "$CRIX_TOP" -B "$dir" "$@" >/dev/null
	cmake --build "$dir" -j "$(nproc)" -- --no-print-directory >/dev/null
}
