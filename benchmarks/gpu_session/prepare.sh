#!/usr/bin/env bash
# Run HERE (the development machine, beside ../shared), from anywhere in the repository, before the
# device call of docs/performance.md "GPU session". Fills the folder .gpu/ that the call carries:
#   .gpu/weights/   the six real x4 checkpoints (../shared/weights, 13 MB)
#   .gpu/data/      Set5 and Set14 x4 (HR and LR) and BSD100 x4's first 10 images, with their rows of
#                   manifest.json (the layout srbench's --data-root reads: SET/x4/{HR,LR}/NAME.png)
#   .gpu/whl/       wheels of what the device's Python (3.12) lacks: basicsr, spandrel, diffusers
# .gpu/ is ignored through .git/info/exclude (added here), so it is never committed. The device call
# sends the working tree (tracked and untracked-not-ignored files) plus .gpu: at most 64 MiB; this
# script prints the total and fails above LIMIT_MIB (default 60).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
S=${SHARED:-../shared}
C=.gpu
PY=${PY:-.venv/bin/python}
LIMIT_MIB=${LIMIT_MIB:-60}
D=$S/data/sr-benchmarks

grep -qxF '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
rm -rf $C
mkdir -p $C/weights $C/whl

cp $S/weights/{IMDN_x4,rlfn_x4,swift_srgan_4x,DITN_Real_x4,DITN_Real_GAN_x4,craft_x4_ntire2024_team34}.pth $C/weights/

for set in Set5 Set14; do
    mkdir -p $C/data/$set/x4
    cp -r $D/$set/x4/HR $D/$set/x4/LR $C/data/$set/x4/
done
mkdir -p $C/data/BSD100/x4/HR $C/data/BSD100/x4/LR
for f in $(cd $D/BSD100/x4/HR && LC_ALL=C ls | head -n 10); do  # srbench's --limit 10: the first 10 by name
    cp $D/BSD100/x4/HR/"$f" $C/data/BSD100/x4/HR/
    cp $D/BSD100/x4/LR/"$f" $C/data/BSD100/x4/LR/
done
chmod -R u+w $C
# the manifest rows of the copied files, each copy checked against its sha256
"$PY" - $D $C/data <<'EOF'
import hashlib, json, pathlib, sys
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
rows = [r for r in json.loads((src / "manifest.json").read_text()) if (dst / r["file"]).is_file()]
for r in rows:
    if hashlib.sha256((dst / r["file"]).read_bytes()).hexdigest() != r["sha256"]:
        sys.exit(f"{r['file']}: sha256 differs from the manifest")
copied = sum(1 for p in dst.rglob("*.png"))
if copied != len(rows):
    sys.exit(f"{copied} images copied, {len(rows)} of them in the manifest")
(dst / "manifest.json").write_text(json.dumps(rows, indent=1))
print(f"data: {len(rows)} images, sha256 as in the manifest")
EOF

# The wheels, for the device's Python 3.12 (device README); versions: those of this venv, where the
# tests run. spandrel and diffusers are pure Python on PyPI; basicsr 1.4.2 is an sdist only, so its
# wheel is built here (pure Python; pip reuses the one in its cache).
pin() { "$PY" -c 'import importlib.metadata as m, sys; print(*(f"{p}=={m.version(p)}" for p in sys.argv[1:]))' "$@"; }
echo "wheels: $(pin spandrel diffusers basicsr)"
# shellcheck disable=SC2046
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d $C/whl $(pin spandrel diffusers)
"$PY" -m pip wheel -q --no-deps --no-build-isolation -w $C/whl "$(pin basicsr)"
ls $C/whl

# What the call sends: tracked and untracked-not-ignored files, plus .gpu
"$PY" - $C "$LIMIT_MIB" <<'EOF'
import os, subprocess, sys
def listed(*args):
    out = subprocess.run(["git", "ls-files", "-z", *args], capture_output=True, check=True).stdout
    return [p for p in out.decode().split("\0") if p and os.path.lexists(p)]
size = lambda paths: sum(os.lstat(p).st_size for p in paths)
carried = [os.path.join(d, f) for d, _, fs in os.walk(sys.argv[1]) for f in fs]
parts = {"tracked": size(listed()), "untracked, not ignored": size(listed("--others", "--exclude-standard")),
         sys.argv[1] + " (carried)": size(carried)}
MiB = 2 ** 20
for k, v in parts.items():
    print(f"{v / MiB:8.1f} MiB  {k}")
total = sum(parts.values())
print(f"{total / MiB:8.1f} MiB  travels (device limit 64 MiB; this script's limit {sys.argv[2]} MiB)")
if total > float(sys.argv[2]) * MiB:
    sys.exit("too large: see docs/performance.md, 'GPU session', for what to leave out")
EOF
