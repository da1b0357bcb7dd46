//! Everything that can stop a workshop command, each said in the participant's language with
//! what to do about it.

use crate::lesson::LessonError;
use crate::text::Lang;

/// Why a workshop command could not do its job (a wrong answer is not an error: it is a
/// verdict).
#[derive(Debug, thiserror::Error)]
pub enum WorkshopError {
    #[error("there is no lesson {number}; the lessons are {known} (`tracedojo workshop list`)")]
    UnknownLesson { number: String, known: String },
    #[error("lesson {number} has not been started: run `tracedojo workshop start {number}` first")]
    NotStarted { number: u32 },
    #[error(
        "lesson {number} needs an answer: `tracedojo workshop check {number} ANSWER`, answer as {format}"
    )]
    AnswerNeeded { number: u32, format: String },
    #[error("{en}")]
    AnswerForm { en: String, ja: String },
    #[error(
        "cannot reach the explorer at {base} ({why}); is `tracedojo up` running? (--explorer says where)"
    )]
    ExplorerUnreachable { base: String, why: &'static str },
    #[error("the explorer at {base} answered {status} to {path}: {message}")]
    ExplorerRefused {
        base: String,
        path: String,
        status: u16,
        message: String,
    },
    #[error("{0}")]
    Control(#[from] tracedojo_faults::client::ClientError),
    #[error("the stage's traffic could not start: {0}")]
    Load(String),
    #[error("cannot {action} {path}: {message}")]
    Data {
        action: &'static str,
        path: String,
        message: String,
    },
    #[error("{0}")]
    Lesson(#[from] LessonError),
}

impl WorkshopError {
    /// The message in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        if lang == Lang::En {
            return self.to_string();
        }
        match self {
            WorkshopError::UnknownLesson { number, known } => format!(
                "レッスン {number} はありません。レッスンは {known} です（一覧は `tracedojo workshop list` で表示できます）"
            ),
            WorkshopError::NotStarted { number } => format!(
                "レッスン {number} はまだ開始していません。先に `tracedojo workshop start {number}` を実行してください"
            ),
            WorkshopError::AnswerNeeded { number, format } => format!(
                "レッスン {number} には回答が必要です: `tracedojo workshop check {number} 回答`（回答の形式: {format}）"
            ),
            WorkshopError::AnswerForm { ja, .. } => ja.clone(),
            WorkshopError::ExplorerUnreachable { base, why } => format!(
                "エクスプローラー（{base}）に接続できません（{}）。`tracedojo up` は起動していますか？（接続先は --explorer で指定します）",
                match *why {
                    "connection refused" => "接続を拒否されました",
                    "no answer within 10 s" => "10 秒以内に応答がありません",
                    _ => "リクエストに失敗しました",
                }
            ),
            WorkshopError::ExplorerRefused {
                base,
                path,
                status,
                message,
            } => format!("エクスプローラー（{base}）が {path} に {status} を返しました: {message}"),
            WorkshopError::Control(err) => {
                format!("障害注入の制御 API でエラーが発生しました: {err}")
            }
            WorkshopError::Load(message) => {
                format!("ステージのトラフィックを開始できませんでした: {message}")
            }
            WorkshopError::Data {
                action,
                path,
                message,
            } => format!(
                "{path} を{}ません: {message}",
                if *action == "read" {
                    "読み込め"
                } else {
                    "書き込め"
                }
            ),
            WorkshopError::Lesson(err) => format!("レッスンファイルの誤り: {err}"),
        }
    }
}
