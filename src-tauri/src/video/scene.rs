//! What the native renderer draws and what it has drawn: the page's layout
//! goes in from any thread, the renderer (on the window's thread) reads it
//! and writes back what each view showed.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;

use super::layout::Placed;

/// How many recent latencies each view keeps for its percentiles.
const RECENT: usize = 120;

/// What one view has drawn.
#[derive(Debug, Clone, Serialize, PartialEq, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ViewStats {
    pub id: String,
    /// Whether its source has a picture (else the page shows its fallback).
    pub has_video: bool,
    /// Pictures drawn in it so far.
    pub drawn: u32,
    /// The size of the last picture drawn.
    pub width: u32,
    pub height: u32,
    /// When the first picture was drawn, ms since the Unix epoch.
    pub first_drawn_at: Option<f64>,
    /// Added latency (received from LiveKit → drawn), ms, of recent
    /// pictures.
    pub added_p50: Option<f64>,
    pub added_p95: Option<f64>,
}

#[derive(Debug, Default)]
struct Counts {
    has_video: bool,
    drawn: u32,
    width: u32,
    height: u32,
    first_drawn_at: Option<f64>,
    added: VecDeque<f64>,
}

#[derive(Debug, Default)]
struct Inner {
    views: Vec<Placed>,
    background: [f32; 3],
    /// Bumped on each new layout.
    generation: u64,
    counts: HashMap<String, Counts>,
}

/// The layout and the counts, shared.
#[derive(Debug, Default)]
pub struct Scene {
    inner: Mutex<Inner>,
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * p / 100.0).round() as usize;
    sorted.get(i).copied()
}

impl Scene {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// A new layout from the page; views no longer in it are forgotten.
    pub fn set_layout(&self, views: Vec<Placed>, background: [f32; 3]) {
        let mut inner = self.lock();
        inner
            .counts
            .retain(|id, _| views.iter().any(|v| &v.id == id && v.source.is_some()));
        for v in views.iter().filter(|v| v.source.is_some()) {
            inner.counts.entry(v.id.clone()).or_default();
        }
        inner.views = views;
        inner.background = background;
        inner.generation += 1;
    }

    /// The layout to draw and its generation.
    pub fn layout(&self) -> (Vec<Placed>, [f32; 3], u64) {
        let inner = self.lock();
        (inner.views.clone(), inner.background, inner.generation)
    }

    /// Says whether `id`'s source has a picture.
    pub fn set_has_video(&self, id: &str, has: bool) {
        if let Some(c) = self.lock().counts.get_mut(id) {
            c.has_video = has;
        }
    }

    /// Counts a new picture drawn in `id`; `added_ms` when known.
    pub fn drawn(&self, id: &str, width: u32, height: u32, now_ms: f64, added_ms: Option<f64>) {
        if let Some(c) = self.lock().counts.get_mut(id) {
            c.has_video = true;
            c.drawn = c.drawn.wrapping_add(1);
            c.width = width;
            c.height = height;
            c.first_drawn_at.get_or_insert(now_ms);
            if let Some(a) = added_ms.filter(|a| a.is_finite() && *a >= 0.0) {
                if c.added.len() == RECENT {
                    c.added.pop_front();
                }
                c.added.push_back(a);
            }
        }
    }

    pub fn stats(&self) -> Vec<ViewStats> {
        let inner = self.lock();
        inner
            .views
            .iter()
            .filter_map(|v| {
                let c = inner.counts.get(&v.id)?;
                let mut sorted: Vec<f64> = c.added.iter().copied().collect();
                sorted.sort_by(f64::total_cmp);
                Some(ViewStats {
                    id: v.id.clone(),
                    has_video: c.has_video,
                    drawn: c.drawn,
                    width: c.width,
                    height: c.height,
                    first_drawn_at: c.first_drawn_at,
                    added_p50: percentile(&sorted, 50.0),
                    added_p95: percentile(&sorted, 95.0),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::video::layout::Fit;

    fn placed(id: &str) -> Placed {
        Placed {
            id: id.into(),
            source: Some("s".into()),
            rect: [0.0, 0.0, 10.0, 10.0],
            mirrored: false,
            radius: 0.0,
            fit: Fit::Contain,
            background: [0.0; 3],
        }
    }

    #[test]
    fn counts_follow_the_views_of_the_layout() {
        let scene = Scene::default();
        scene.set_layout(vec![placed("a"), placed("b")], [0.0; 3]);
        for i in 0..10 {
            scene.drawn("a", 640, 360, 1000.0 + f64::from(i), Some(f64::from(i)));
        }
        scene.drawn("gone", 1, 1, 0.0, None);
        let stats = scene.stats();
        assert_eq!(stats.len(), 2);
        assert_eq!(
            (stats[0].drawn, stats[0].width, stats[0].has_video),
            (10, 640, true)
        );
        assert_eq!(stats[0].first_drawn_at, Some(1000.0));
        assert_eq!(stats[0].added_p50, Some(5.0));
        assert_eq!(stats[0].added_p95, Some(9.0));
        assert!(!stats[1].has_video);
        // A view that leaves the layout loses its counts; one that comes
        // back starts again.
        scene.set_layout(vec![placed("b")], [0.0; 3]);
        scene.set_layout(vec![placed("a")], [0.0; 3]);
        assert_eq!(scene.stats()[0].drawn, 0);
    }
}
