//! The SigmaHQ rule set (`$VIGIL_CORPORA/sigma/rules`): at least 99 % of its
//! rules compile, and every one that does not is listed with its reason.

use std::path::{Path, PathBuf};
use vigil_sigma::rule::{parse_rules, CompiledRule};
use vigil_sigma::value::CompileContext;

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("VIGIL_CORPORA")?).join("sigma/rules");
    dir.is_dir().then_some(dir)
}

fn rule_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read rule folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rule_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yml") {
            out.push(path);
        }
    }
}

#[test]
fn at_least_99_percent_of_sigmahq_rules_compile() {
    let Some(dir) = corpus() else {
        eprintln!("VIGIL_CORPORA is not set: the SigmaHQ corpus test is skipped");
        return;
    };
    let mut files = Vec::new();
    rule_files(&dir, &mut files);
    files.sort();
    let ctx = CompileContext {
        placeholders: None,
        limits: None,
    };
    let (mut compiled, mut failed) = (0usize, Vec::new());
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read rule");
        let name = file
            .strip_prefix(&dir)
            .unwrap_or(file)
            .display()
            .to_string();
        let (rules, errors) = parse_rules(&text, &name);
        failed.extend(errors);
        for rule in rules {
            match CompiledRule::compile(rule, &ctx) {
                Ok(_) => compiled += 1,
                Err(e) => failed.push(e),
            }
        }
    }
    let total = compiled + failed.len();
    for error in &failed {
        eprintln!("cannot run: {error}");
    }
    eprintln!("compiled {compiled} of {total} rules");
    assert!(
        total >= 3000,
        "the corpus holds the SigmaHQ rule set ({total} rules)"
    );
    assert!(
        compiled * 100 >= total * 99,
        "compiled {compiled} of {total}: under 99 %"
    );
}
