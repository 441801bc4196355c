//! The state of each component, for `/readyz` and the API.

use std::sync::Mutex;

use indexmap::IndexMap;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "error")]
pub enum ComponentState {
    Starting,
    Running,
    /// Finished normally (a finite source, or at shutdown).
    Stopped,
    Failed(String),
}

/// Every component's state.
#[derive(Debug, Default)]
pub struct Health {
    states: Mutex<IndexMap<String, ComponentState>>,
}

impl Health {
    pub fn set(&self, id: &str, state: ComponentState) {
        self.lock().insert(id.to_owned(), state);
    }

    pub fn snapshot(&self) -> IndexMap<String, ComponentState> {
        self.lock().clone()
    }

    /// Ready once every component has started and none has failed.
    pub fn is_ready(&self) -> bool {
        let states = self.lock();
        !states.is_empty()
            && states
                .values()
                .all(|s| matches!(s, ComponentState::Running | ComponentState::Stopped))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, IndexMap<String, ComponentState>> {
        self.states.lock().unwrap_or_else(|p| p.into_inner())
    }
}
