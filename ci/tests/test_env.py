"""ci/check_requirements.py: which model requirements the zoo environment still lacks."""
import os
import subprocess
import sys

CI = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_aliases_and_specifiers(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("# a model's requirements\n"
                   "tensorflow>=1.15        # satisfied by tensorflow-cpu\n"
                   "opencv-python           # satisfied by opencv-python-headless\n"
                   "torch>=2.0              # 2.13.0+cpu: the local version label is ignored\n"
                   "widerface_eval          # the editable package\n"
                   "numpy<1.0\n"
                   "zoo-surely-not-installed-package>=1\n"
                   "pywin32; sys_platform == 'win32'\n")
    out = subprocess.run([sys.executable, os.path.join(CI, "check_requirements.py"), str(req)],
                         capture_output=True, text=True, check=True).stdout.split("\n")
    assert [x for x in out if x] == ["numpy<1.0", "zoo-surely-not-installed-package>=1"]


def test_invalid_line_names_file_and_line(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("numpy\nnot a valid == requirement ==\n")
    r = subprocess.run([sys.executable, os.path.join(CI, "check_requirements.py"), str(req)],
                       capture_output=True, text=True)
    assert r.returncode != 0 and f"{req}:2: invalid requirement" in r.stderr


def test_every_model_requirement_is_satisfied_by_the_zoo_env():
    root = os.path.dirname(CI)
    files = [os.path.join(root, fw, m, "requirements.txt") for fw in ("tensorflow", "pytorch", "mindspore")
             if os.path.isdir(os.path.join(root, fw)) for m in sorted(os.listdir(os.path.join(root, fw)))
             if os.path.isfile(os.path.join(root, fw, m, "requirements.txt"))]
    out = subprocess.run([sys.executable, os.path.join(CI, "check_requirements.py"), *files],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"not satisfied by the zoo environment: {out}"
