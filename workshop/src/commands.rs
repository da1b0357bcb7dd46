//! What each `tracedojo workshop` command does, returning the text to print: list, show,
//! start, check, hint, reset and status.

use std::path::PathBuf;

use tracedojo_faults::client::ControlClient;

use crate::check::{self, Outcome, Verdict};
use crate::error::WorkshopError;
use crate::explorer::Explorer;
use crate::lesson::{Lesson, Texts};
use crate::progress::{self, LessonProgress, Progress};
use crate::text::{Lang, pad};

/// Where the running shop is, who the participant is, and where progress is kept.
#[derive(Debug, Clone)]
pub struct Settings {
    pub explorer: String,
    pub control: String,
    pub control_token: Option<String>,
    pub shop: String,
    pub data_dir: PathBuf,
    /// Their `service.namespace`, when several share one explorer or backend.
    pub participant: Option<String>,
    pub lang: Lang,
}

impl Settings {
    /// The explorer's address as a participant opens it (narrowed to their namespace).
    fn explorer_page(&self) -> String {
        let base = self.explorer.trim_end_matches('/');
        match &self.participant {
            Some(name) => format!("{base}/?namespace={name}"),
            None => base.to_string(),
        }
    }

    /// A lesson text with `{explorer}` and `{shop}` filled in.
    fn fill(&self, text: &str) -> String {
        text.replace("{explorer}", &self.explorer_page())
            .replace("{shop}", self.shop.trim_end_matches('/'))
    }
}

/// Every lesson, checked, in order.
pub fn lessons() -> Result<Vec<Lesson>, WorkshopError> {
    Ok(crate::catalogue()?)
}

/// The lesson a participant names by number (`4`, `04`) or slug (`slow-dependency`).
pub fn find(lessons: &[Lesson], name: &str) -> Result<Lesson, WorkshopError> {
    let name = name.trim();
    lessons
        .iter()
        .find(|l| name.parse::<u32>().ok() == Some(l.number) || l.slug == name)
        .cloned()
        .ok_or_else(|| WorkshopError::UnknownLesson {
            number: name.to_string(),
            known: match (lessons.first(), lessons.last()) {
                (Some(first), Some(last)) => format!("{}-{}", first.number, last.number),
                _ => "none".to_string(),
            },
        })
}

/// `list`: one line per lesson, with the participant's progress.
pub fn list(settings: &Settings) -> Result<String, WorkshopError> {
    let lang = settings.lang;
    let progress = Progress::load(&settings.data_dir)?;
    let mut out = String::new();
    for lesson in lessons()? {
        let mark = match progress.lessons.get(&lesson.number) {
            Some(p) if p.passed_unix_ms.is_some() => "✓",
            Some(_) => "▶",
            None => " ",
        };
        let minutes = lang.say(
            format!("{} min", lesson.minutes),
            format!("{} 分", lesson.minutes),
        );
        out.push_str(&format!(
            "{mark} {:>2}  {} {minutes}\n",
            lesson.number,
            pad(&lesson.texts(lang).title, 44)
        ));
    }
    out.push_str(&lang.say(
        "\n`tracedojo workshop show N` shows a lesson; `tracedojo workshop start N` sets its stage.\n",
        "\n`tracedojo workshop show N` でレッスンを表示し、`tracedojo workshop start N` でその環境を準備します。\n",
    ));
    Ok(out)
}

/// `show N`: the whole lesson but its hints and explanation.
pub fn show(settings: &Settings, name: &str) -> Result<String, WorkshopError> {
    let lesson = find(&lessons()?, name)?;
    Ok(render(settings, &lesson))
}

fn render(settings: &Settings, lesson: &Lesson) -> String {
    let lang = settings.lang;
    let t: &Texts = lesson.texts(lang);
    let n = lesson.number;
    let mut out = lang.say(
        format!("Lesson {n} · {} ({} min)\n", t.title, lesson.minutes),
        format!("レッスン {n}・{}（{} 分）\n", t.title, lesson.minutes),
    );
    let section = |out: &mut String, en: &str, ja: &str, body: &str| {
        out.push_str(&format!("\n{}\n", lang.say(en, ja)));
        for line in settings.fill(body).trim().lines() {
            out.push_str(&format!("  {line}\n"));
        }
    };
    section(&mut out, "Goal", "目標", &t.goal);
    if !t.run.is_empty() {
        let commands: Vec<String> = t.run.iter().map(|c| format!("$ {c}")).collect();
        section(&mut out, "Run", "実行するコマンド", &commands.join("\n"));
    }
    section(&mut out, "Look", "確認する場所", &t.look);
    section(&mut out, "Task", "課題", &t.task);
    let how = match &t.answer_format {
        Some(format) => lang.say(
            format!("tracedojo workshop check {n} ANSWER\nanswer as {format}"),
            format!("tracedojo workshop check {n} 回答\n回答の形式: {format}"),
        ),
        None => format!("tracedojo workshop check {n}"),
    };
    section(&mut out, "Check", "答え合わせ", &how);
    out.push_str(&lang.say(
        format!(
            "\nStuck? `tracedojo workshop hint {n}` gives a hint ({} in all).\n",
            t.hints.len()
        ),
        format!(
            "\n行き詰まったら `tracedojo workshop hint {n}` でヒントを表示できます（全 {} 個）。\n",
            t.hints.len()
        ),
    ));
    out
}

/// `start N`: sets the lesson's stage and records the start.
pub async fn start(settings: &Settings, name: &str) -> Result<String, WorkshopError> {
    let lang = settings.lang;
    let lesson = find(&lessons()?, name)?;
    let mut progress = Progress::load(&settings.data_dir)?;
    let seed = progress::seed(settings.participant.as_deref(), &progress);
    let vars = crate::vary::choose(seed, &lesson.slug, &lesson.stage.vary);
    let control = ControlClient::new(&settings.control, settings.control_token.clone())?;
    // Traffic from the moment the stage's faults are set counts as the lesson's.
    let started = progress::now_ms();
    let report = crate::stage::set(
        &lesson.stage,
        &vars,
        &control,
        &settings.shop,
        seed ^ u64::from(lesson.number),
    )
    .await?;
    // Kept only once the stage is set: a stage that failed leaves the progress as it was.
    let entry = progress.lessons.entry(lesson.number).or_default();
    *entry = LessonProgress {
        started_unix_ms: started,
        vars,
        attempts: 0,
        hints_shown: entry.hints_shown,
        passed_unix_ms: entry.passed_unix_ms,
    };
    progress.current = Some(lesson.number);
    progress.save(&settings.data_dir)?;
    let mut out = render(settings, &lesson);
    if report.journeys > 0 {
        out.push_str(&lang.say(
            format!(
                "\nStage set: {} simulated shoppers sent {} requests.\n",
                report.journeys, report.requests
            ),
            format!(
                "\n環境を準備しました: 模擬の買い物客 {} 人が {} 件のリクエストを送りました。\n",
                report.journeys, report.requests
            ),
        ));
    } else {
        out.push_str(&lang.say("\nStage set.\n", "\n環境を準備しました。\n"));
    }
    Ok(out)
}

/// What `check` found.
pub struct Checked {
    pub verdict: Verdict,
    pub lesson: u32,
    /// The lesson's explanation, after a right answer.
    pub explanation: Option<String>,
}

/// `check N [ANSWER]`: runs the lesson's check and records the attempt.
pub async fn check(
    settings: &Settings,
    name: &str,
    answer: Option<&str>,
) -> Result<Checked, WorkshopError> {
    let lang = settings.lang;
    let lesson = find(&lessons()?, name)?;
    let mut progress = Progress::load(&settings.data_dir)?;
    let Some(state) = progress.lessons.get(&lesson.number).cloned() else {
        return Err(WorkshopError::NotStarted {
            number: lesson.number,
        });
    };
    let format_en = lesson.en.answer_format.clone().unwrap_or_default();
    let format_ja = lesson.ja.answer_format.clone().unwrap_or_default();
    let answer = match answer.map(str::trim).filter(|a| !a.is_empty()) {
        Some(answer) => answer.to_string(),
        None if lesson.check.takes_answer() => {
            return Err(WorkshopError::AnswerNeeded {
                number: lesson.number,
                format: lang.say(format_en, format_ja),
            });
        }
        None => String::new(),
    };
    let explorer = Explorer::new(&settings.explorer, settings.participant.clone())?;
    let context = check::Context {
        explorer: &explorer,
        lang,
        started_unix_ms: state.started_unix_ms,
        vars: &state.vars,
        format_en: &format_en,
        format_ja: &format_ja,
        stage_journeys: lesson.stage.load.as_ref().map_or(0, |load| load.journeys),
    };
    let verdict = check::run(&lesson.check, &context, &answer).await?;
    let entry = progress.lessons.entry(lesson.number).or_default();
    entry.attempts += 1;
    if verdict.outcome == Outcome::Right && entry.passed_unix_ms.is_none() {
        entry.passed_unix_ms = Some(progress::now_ms());
    }
    progress.save(&settings.data_dir)?;
    let explanation = (verdict.outcome == Outcome::Right)
        .then(|| settings.fill(lesson.texts(lang).explanation.trim()));
    Ok(Checked {
        verdict,
        lesson: lesson.number,
        explanation,
    })
}

/// `hint N`: the next hint (the last one again once all are shown).
pub fn hint(settings: &Settings, name: &str) -> Result<String, WorkshopError> {
    let lang = settings.lang;
    let lesson = find(&lessons()?, name)?;
    let mut progress = Progress::load(&settings.data_dir)?;
    let hints = &lesson.texts(lang).hints;
    let entry = progress.lessons.entry(lesson.number).or_default();
    let index = (entry.hints_shown as usize).min(hints.len() - 1);
    entry.hints_shown = (index + 1) as u32;
    progress.save(&settings.data_dir)?;
    Ok(lang.say(
        format!(
            "Hint {} of {}: {}\n",
            index + 1,
            hints.len(),
            settings.fill(&hints[index])
        ),
        format!(
            "ヒント {}/{}: {}\n",
            index + 1,
            hints.len(),
            settings.fill(&hints[index])
        ),
    ))
}

/// `reset`: forgets the progress and clears the faults a stage set.
pub async fn reset(settings: &Settings) -> Result<String, WorkshopError> {
    let lang = settings.lang;
    let forgot = Progress::reset(&settings.data_dir)?;
    let mut out = if forgot {
        lang.say("Progress cleared.\n", "進捗を消去しました。\n")
    } else {
        lang.say(
            "There was no progress to clear.\n",
            "消去する進捗はありませんでした。\n",
        )
    };
    let cleared = match ControlClient::new(&settings.control, settings.control_token.clone()) {
        Ok(control) => control.clear_all().await.map_err(WorkshopError::from),
        Err(err) => Err(err.into()),
    };
    out.push_str(&match cleared {
        Ok(_) => lang.say(
            "Every fault cleared: the shop runs normally.\n",
            "障害をすべて解除しました。ショップは通常どおり動いています。\n",
        ),
        Err(err) => lang.say(
            format!(
                "The faults could not be cleared ({}); they end when `tracedojo up` stops.\n",
                err.message(lang)
            ),
            format!(
                "障害を解除できませんでした（{}）。`tracedojo up` を停止すると解除されます。\n",
                err.message(lang)
            ),
        ),
    });
    Ok(out)
}

/// `status`: who, how far, where stuck.
pub fn status(settings: &Settings) -> Result<String, WorkshopError> {
    let lang = settings.lang;
    let progress = Progress::load(&settings.data_dir)?;
    let lessons = lessons()?;
    let passed = progress
        .lessons
        .values()
        .filter(|p| p.passed_unix_ms.is_some())
        .count();
    let who = settings
        .participant
        .clone()
        .unwrap_or_else(|| lang.say("(no name)", "（名前なし）"));
    let mut out = lang.say(
        format!(
            "Participant {who}: {passed} of {} lessons passed.\n",
            lessons.len()
        ),
        format!(
            "参加者 {who}: 全 {} レッスン中 {passed} レッスンを完了しました。\n",
            lessons.len()
        ),
    );
    for lesson in &lessons {
        let Some(p) = progress.lessons.get(&lesson.number) else {
            continue;
        };
        let state = match p.passed_unix_ms {
            Some(_) => lang.say("passed", "完了"),
            None => lang.say("under way", "取り組み中"),
        };
        out.push_str(&lang.say(
            format!(
                "  {:>2} {} {state}, {} checks, {} hints\n",
                lesson.number,
                pad(&lesson.en.title, 40),
                p.attempts,
                p.hints_shown
            ),
            format!(
                "  {:>2} {} {state}、答え合わせ {} 回、ヒント {} 個\n",
                lesson.number,
                pad(&lesson.ja.title, 40),
                p.attempts,
                p.hints_shown
            ),
        ));
    }
    if progress.lessons.is_empty() {
        out.push_str(&lang.say(
            "No lesson started yet: `tracedojo workshop start 1`.\n",
            "まだレッスンを開始していません。`tracedojo workshop start 1` で始めてください。\n",
        ));
    }
    Ok(out)
}
