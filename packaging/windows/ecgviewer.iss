; Inno Setup 6 script of the Windows installer (per-machine). Built by packaging\build.ps1:
;   ISCC.exe /DAppVersion=0.1.0 /DSourceDir=packaging\dist\ecgviewer /DRootDir=. /Opackaging\dist packaging\windows\ecgviewer.iss
; Silent install for IT (software distribution, GPO, Intune):
;   ecgviewer-0.1.0-setup.exe /VERYSILENT /SUPPRESSMSGBOXES /NORESTART /LOG="%TEMP%\ecgviewer-setup.log"
;   optional: /DIR="D:\Apps\ECG Viewer"  /TASKS="desktopicon"  /MERGETASKS="!assoc" (no .hea association)
; Silent uninstall: "%ProgramFiles%\ECG Viewer\unins000.exe" /VERYSILENT /SUPPRESSMSGBOXES /NORESTART
; Check an install: "%ProgramFiles%\ECG Viewer\ecgviewer-cli.exe" --self-test   (exit code 0 = OK)
; NOT RUN here (written and reviewed on Linux); see docs/packaging.md.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef SourceDir
  #define SourceDir "..\dist\ecgviewer"
#endif
#ifndef RootDir
  #define RootDir "..\.."
#endif

[Setup]
AppId={{6B0E5C2A-4D1F-4E8B-9C33-5E2C0A1B7D41}
AppName=ECG Viewer
AppVersion={#AppVersion}
AppVerName=ECG Viewer {#AppVersion}
AppPublisher=ecgviewer
DefaultDirName={autopf}\ECG Viewer
DefaultGroupName=ECG Viewer
DisableProgramGroupPage=yes
; per-machine: Program Files, HKLM, all users' Start menu
PrivilegesRequired=admin
PrivilegesRequiredOverridesAllowed=
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputBaseFilename=ecgviewer-{#AppVersion}-setup
SetupIconFile={#RootDir}\resources\icons\ecgviewer.ico
UninstallDisplayIcon={app}\ecgviewer.exe
LicenseFile={#RootDir}\resources\LICENSES.md
Compression=lzma2/max
SolidCompression=yes
LZMANumBlockThreads=4
WizardStyle=modern
ChangesAssociations=yes
CloseApplications=yes
RestartApplications=no
VersionInfoVersion={#AppVersion}

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "assoc"; Description: "Open WFDB record headers (.hea) with ECG Viewer"; GroupDescription: "File associations:"
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; an upgrade replaces the whole folder: no stale library of an older build stays behind
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{autoprograms}\ECG Viewer"; Filename: "{app}\ecgviewer.exe"; Comment: "Review ECG recordings; flags anomalous heartbeats"
Name: "{autodesktop}\ECG Viewer"; Filename: "{app}\ecgviewer.exe"; Tasks: desktopicon

[Registry]
; .hea -> ECGViewer.WFDBHeader (HKLM\Software\Classes because the install is per-machine)
Root: HKA; Subkey: "Software\Classes\.hea\OpenWithProgids"; ValueType: string; ValueName: "ECGViewer.WFDBHeader"; ValueData: ""; Flags: uninsdeletevalue; Tasks: assoc
Root: HKA; Subkey: "Software\Classes\ECGViewer.WFDBHeader"; ValueType: string; ValueName: ""; ValueData: "WFDB record header (ECG)"; Flags: uninsdeletekey; Tasks: assoc
Root: HKA; Subkey: "Software\Classes\ECGViewer.WFDBHeader\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\ecgviewer.exe,0"; Tasks: assoc
Root: HKA; Subkey: "Software\Classes\ECGViewer.WFDBHeader\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\ecgviewer.exe"" ""%1"""; Tasks: assoc
Root: HKA; Subkey: "Software\Classes\Applications\ecgviewer.exe\SupportedTypes"; ValueType: string; ValueName: ".hea"; ValueData: ""; Tasks: assoc

[Run]
Filename: "{app}\ecgviewer.exe"; Description: "{cm:LaunchProgram,ECG Viewer}"; Flags: nowait postinstall skipifsilent
