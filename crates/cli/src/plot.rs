//! PNG plots of training curves: loss and accuracy, train and test, one line per run.

use std::path::Path;

use plotters::prelude::*;
use shroud_nn::training::square::EpochStats;

type Metric = fn(&EpochStats) -> f64;
/// A figure: file name, quantity, and the train and test curves of it.
type Panel = (&'static str, &'static str, [(&'static str, Metric); 2]);

/// Writes `loss.png` and `accuracy.png` into `dir`; returns their names.
pub fn plot_curves(
    dir: &Path,
    runs: &[(&str, Vec<EpochStats>)],
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let panels: [Panel; 2] = [
        (
            "loss.png",
            "MSE loss",
            [("train", |s| s.train_loss), ("test", |s| s.test_loss)],
        ),
        (
            "accuracy.png",
            "accuracy",
            [("train", |s| s.train_acc), ("test", |s| s.test_acc)],
        ),
    ];
    let mut written = Vec::new();
    for (file, title, metrics) in panels {
        let path = dir.join(file);
        let root = BitMapBackend::new(&path, (900, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let epochs = runs.iter().map(|(_, h)| h.len()).max().unwrap_or(1) as f64;
        let top = runs
            .iter()
            .flat_map(|(_, h)| {
                h.iter()
                    .flat_map(|s| metrics.iter().map(move |(_, f)| f(s)))
            })
            .fold(0f64, f64::max)
            .max(1e-9)
            * 1.05;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("Iris 4-10-3: {title}, plaintext vs encrypted"),
                ("sans-serif", 22),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(1f64..epochs.max(2.0), 0f64..top)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc(title)
            .draw()?;
        let colors = [BLUE, RED, GREEN, MAGENTA];
        for (r, (name, history)) in runs.iter().enumerate() {
            for (m, (split, f)) in metrics.iter().enumerate() {
                let style = colors[(2 * r + m) % colors.len()];
                chart
                    .draw_series(LineSeries::new(
                        history.iter().map(|s| (s.epoch as f64, f(s))),
                        style.stroke_width(2),
                    ))?
                    .label(format!("{name} {split}"))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], style.stroke_width(2))
                    });
            }
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        written.push(file.to_string());
    }
    Ok(written)
}
