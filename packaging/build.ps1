# One command to build the packaged app and its Windows installer:
#     powershell -ExecutionPolicy Bypass -File packaging\build.ps1 [-NoInstaller]
# Output: packaging\dist\ecgviewer\ (ecgviewer.exe windowed, ecgviewer-cli.exe console) and
#         packaging\dist\ecgviewer-VERSION-setup.exe (Inno Setup 6, per-machine).
# Needs: the app venv (.venv) with `pip install -e .[packaging]` (the app with ONNX Runtime, PyInstaller);
#        Inno Setup 6 (ISCC.exe on PATH or in its default folder) for the installer step.
# NOT RUN in the project's CI so far (built and tested on Linux only); see docs/packaging.md.
param([switch]$NoInstaller)
$ErrorActionPreference = "Stop"
$Here = Split-Path -Parent $MyInvocation.MyCommand.Path
$Root = Split-Path -Parent $Here
$Python = if ($env:PYTHON) { $env:PYTHON } else { Join-Path $Root ".venv\Scripts\python.exe" }
Set-Location $Root
$Version = & $Python -c "import ecgviewer; print(ecgviewer.__version__)"
& $Python -c "import PyInstaller" 2>$null
if ($LASTEXITCODE -ne 0) { throw "PyInstaller missing: $Python -m pip install -e .[packaging]" }
& $Python -c "import onnxruntime"
if ($LASTEXITCODE -ne 0) { throw "ONNX Runtime missing (the app scores with it): pip install -e ." }

$sw = [Diagnostics.Stopwatch]::StartNew()
& $Python -m PyInstaller --noconfirm --clean --log-level WARN --distpath "$Here\dist" --workpath "$Here\build" "$Here\ecgviewer.spec"
if ($LASTEXITCODE -ne 0) { throw "PyInstaller failed" }
Write-Host "build.ps1: PyInstaller done in $([int]$sw.Elapsed.TotalSeconds) s"

# Quick check of the folder before packaging it
& "$Here\dist\ecgviewer\ecgviewer-cli.exe" --self-test
if ($LASTEXITCODE -ne 0) { throw "self-test of the built app failed" }

if (-not $NoInstaller) {
    $Iscc = (Get-Command ISCC.exe -ErrorAction SilentlyContinue).Source
    if (-not $Iscc) { $Iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe" }
    if (-not (Test-Path $Iscc)) { throw "Inno Setup 6 not found (ISCC.exe); install it or run with -NoInstaller" }
    & $Iscc "/DAppVersion=$Version" "/DSourceDir=$Here\dist\ecgviewer" "/DRootDir=$Root" "/O$Here\dist" "$Here\windows\ecgviewer.iss"
    if ($LASTEXITCODE -ne 0) { throw "Inno Setup failed" }
}
$size = (Get-ChildItem -Recurse "$Here\dist\ecgviewer" | Measure-Object -Property Length -Sum).Sum / 1MB
Write-Host ("build.ps1: folder {0:N0} MB; done in {1} s" -f $size, [int]$sw.Elapsed.TotalSeconds)
Get-ChildItem "$Here\dist\*.exe" | ForEach-Object { Write-Host ("  {0}: {1:N0} MB" -f $_.Name, ($_.Length / 1MB)) }
