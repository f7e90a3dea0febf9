"""A wheel built from the repository installs into a fresh venv, and the app finds its icons and resources there."""

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_installs_and_finds_resources(tmp_path):
    dist = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o", str(dist), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    wheels = list(dist.glob("kfexplorer-*.whl"))
    assert len(wheels) == 1
    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(target)
    py = target / "bin" / "python"
    # The dependencies come from the test environment (no network needed): a .pth points at its site-packages.
    fresh_site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                capture_output=True, text=True, check=True).stdout.strip()
    Path(fresh_site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheels[0])],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    check = subprocess.run(
        [str(py), "-c",
         "import kfexplorer, kfexplorer.package_files as f;"
         "print(kfexplorer.__file__); print(f.icon_path('app.svg')); print(f.resource_path('ontologies'));"
         "assert f.icon_path('app.svg').is_file(); assert f.resource_path('ontologies').is_dir();"
         "assert any(f.resource_path('themes').iterdir())"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    lines = check.stdout.splitlines()
    assert fresh_site in lines[0] and fresh_site in lines[1], lines  # from the wheel, not the checkout
    cli = subprocess.run([str(target / "bin" / "kfexplorer"), "--version"], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=120)
    assert cli.returncode == 0 and "kfexplorer" in cli.stdout, cli.stderr
