import SwiftUI
import UIKit

/// Loads the bundled contract, labels, model and samples, and classifies on request (all on the
/// main thread: the model is a few tens of kilobytes and one image is one small inference).
final class DemoModel: ObservableObject {
    struct SampleImage: Identifiable {
        let id: Int
        let image: UIImage
        let gray: [Int]
        let label: String
    }

    @Published private(set) var samples: [SampleImage] = []
    @Published private(set) var result = "Tap a test image, or draw and press Classify."
    /// The backend switch: TensorFlow Lite, ONNX Runtime, or both side by side.
    @Published var choice: BackendChoice = .both

    private var classifier: Result<Classifier, Error>?
    private var onnxClassifier: Result<OnnxClassifier, Error>?
    private var contract: Contract?

    /// The canvas is rendered at this many pixels a side, then box-filtered to the model's size.
    private let canvasPixels = 280

    init() {
        do {
            try load()
        } catch {
            result = "Cannot load the model: \(error)"
        }
    }

    private func load() throws {
        // DemoAssets is a folder reference: its files keep their paths inside the app bundle.
        guard let assets = Bundle.main.resourceURL?.appendingPathComponent("DemoAssets") else {
            throw ContractError(description: "the app bundle has no resource directory")
        }
        let contract = try Contract.parse(Data(contentsOf: assets.appendingPathComponent(Contract.fileName)))
        let labelsText = try String(contentsOf: assets.appendingPathComponent(contract.labelsFile), encoding: .utf8)
        let labels = try parseLabels(labelsText, expectedCount: contract.numClasses)
        // Each backend loads on its own: a model that disagrees with contract.json disables only
        // that backend, with its reason on screen.
        classifier = Result {
            try Classifier(modelURL: assets.appendingPathComponent(contract.model.file),
                           contract: contract, labels: labels)
        }
        if let onnx = contract.onnx {
            onnxClassifier = Result {
                try OnnxClassifier(modelURL: assets.appendingPathComponent(onnx.file),
                                   contract: contract, labels: labels)
            }
        } else {
            choice = .tflite
        }
        var failures: [String] = []
        if case let .failure(error)? = classifier {
            failures.append("TensorFlow Lite: cannot classify: \(error)")
        }
        if case let .failure(error)? = onnxClassifier {
            failures.append("ONNX Runtime: cannot classify: \(error)")
        }
        if !failures.isEmpty {
            result = failures.joined(separator: "\n")
        }
        self.contract = contract
        samples = contract.samples.enumerated().compactMap { index, sample in
            guard let image = UIImage(contentsOfFile: assets.appendingPathComponent(sample.file).path),
                  let cgImage = image.cgImage,
                  cgImage.width == contract.image.width, cgImage.height == contract.image.height else {
                return nil
            }
            return SampleImage(id: index, image: image, gray: GrayImage.pixels(of: cgImage),
                               label: labels[sample.label])
        }
    }

    func classify(_ sample: SampleImage) {
        // The samples are stored in the model's own polarity (light garment on black).
        show(sample.gray, polarity: contract?.polarity ?? .lightOnDark, truth: sample.label)
    }

    func classify(strokes: [[CGPoint]], viewSide: CGFloat) {
        guard let contract = contract, viewSide > 0 else { return }
        let big = DrawingCanvas.grayPixels(strokes, side: canvasPixels, viewSide: viewSide)
        let gray = Preprocess.resizeArea(big, width: canvasPixels, height: canvasPixels,
                                         outWidth: contract.image.width, outHeight: contract.image.height)
        show(gray, polarity: .darkOnLight, truth: nil)
    }

    private func show(_ gray: [Int], polarity: Polarity, truth: String?) {
        let report = Report(
            tflite: choice == .onnx ? nil : outcome(classifier) { try $0.classify(gray, polarity: polarity) },
            onnx: choice == .tflite ? nil : outcome(onnxClassifier) { try $0.classify(gray, polarity: polarity) }
        )
        var lines: [String] = []
        if let tflite = report.tflite { lines.append(line("TensorFlow Lite", tflite)) }
        if let onnx = report.onnx { lines.append(line("ONNX Runtime", onnx)) }
        if let agree = report.agree, let difference = report.scoreDifference {
            lines.append(agree
                ? String(format: "Both agree; scores differ by %.1f points", 100 * difference)
                : "They disagree: TensorFlow Lite says \(report.tflite?.prediction?.label ?? "?"), ONNX Runtime says \(report.onnx?.prediction?.label ?? "?")")
        }
        if let truth = truth { lines.append("True class: \(truth)") }
        result = lines.joined(separator: "\n")
    }

    private func outcome<T>(_ loaded: Result<T, Error>?, _ classify: (T) throws -> Prediction) -> Outcome {
        guard let loaded = loaded else { return .unavailable("the bundle has no .onnx model") }
        switch loaded {
        case let .failure(error):
            return .unavailable("\(error)")
        case let .success(model):
            do {
                return .answer(try classify(model))
            } catch {
                return .unavailable("\(error)")
            }
        }
    }

    private func line(_ backend: String, _ outcome: Outcome) -> String {
        switch outcome {
        case let .answer(prediction):
            return String(format: "%@: %@ (%.1f %%)", backend, prediction.label, 100 * prediction.confidence)
        case let .unavailable(reason):
            return "\(backend): cannot classify: \(reason)"
        }
    }
}
