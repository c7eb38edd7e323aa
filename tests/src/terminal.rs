//! Running a command on a terminal of its own (a pseudo-terminal made by
//! Python's standard `pty` module), so that its no-echo prompts (the key's
//! passphrase, a hardware module's PIN) are asked and answered as a person
//! at a terminal would.

use std::process::Command;

use crate::{Run, run};

/// Starts the command on a new pseudo-terminal, answers each prompt (the
/// output so far ending in `: `, once the command has turned the
/// terminal's echo off) with the next of `PTY_ANSWERS`, then reads
/// the terminal until the command exits; prints what the terminal showed
/// and exits with the command's status.
const DRIVER: &str = r#"
import json, os, pty, select, sys, termios, time
answers = json.loads(os.environ.pop("PTY_ANSWERS"))
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
shown, asked, deadline = b"", 0, time.time() + 60
while time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.1)
    if ready:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break  # the command closed the terminal: it exited
        if not chunk:
            break
        shown += chunk
    if asked < len(answers) and shown.rstrip(b" ").endswith(b":") and shown.endswith(b" "):
        # As pexpect's waitnoecho: type once the command has turned echo
        # off (the prompt shows just before it does); if it never does
        # within 5 seconds, type anyway, and the echo shows in the output.
        until = time.time() + 5
        while termios.tcgetattr(fd)[3] & termios.ECHO and time.time() < until:
            time.sleep(0.01)
        os.write(fd, answers[asked].encode() + b"\n")
        asked += 1
        shown += b"\n"
_, status = os.waitpid(pid, 0)
sys.stdout.write(shown.decode("utf-8", "replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;

/// Runs `cmd` on a terminal of its own, typing `answers` at its prompts in
/// turn. The [`Run`]'s stdout is everything the terminal showed (the
/// command's standard output and error together, and its prompts); what
/// was typed at a no-echo prompt shows only if the command echoed it.
pub fn on_terminal(cmd: &Command, answers: &[&str]) -> Run {
    let mut driver = Command::new("python3");
    driver.arg("-c").arg(DRIVER).arg(cmd.get_program()).args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => driver.env(key, v),
            None => driver.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        driver.current_dir(dir);
    }
    driver.env("PTY_ANSWERS", serde_json::to_string(answers).expect("strings serialise"));
    run(driver, None)
}
