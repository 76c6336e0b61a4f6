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

    private var classifier: Classifier?
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
        classifier = try Classifier(modelURL: assets.appendingPathComponent(contract.model.file),
                                    contract: contract, labels: labels)
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
        guard let classifier = classifier else { return }
        do {
            let prediction = try classifier.classify(gray, polarity: polarity)
            let text = String(format: "%@ (%.1f %%)", prediction.label, 100 * prediction.confidence)
            result = truth.map { "\(text); true class: \($0)" } ?? text
        } catch {
            result = "Classification failed: \(error)"
        }
    }
}
