import XCTest

/// Checks the ONNX Runtime path's Foundation-only half (Preprocess.normalize, OnnxIO, Report)
/// against golden.json: the float32 input every pixel value becomes, and the float32 outputs our
/// runtime (runtime.InferenceSession) gave for the bundled .onnx. The same checks as the Android
/// app's OnnxClassifierTest and BackendsTest.
final class OnnxIOTests: XCTestCase {
    struct Golden: Decodable {
        struct Onnx: Decodable {
            let input: Contract.OnnxTensorSpec
            let output: Contract.OnnxTensorSpec
            let pixelFloat32: [Float]
        }

        struct Sample: Decodable {
            let file: String
            let pixels: [Int]
            let argmax: Int
            let confidence: Float
            let onnxOutputFloat32: [Float]
            let onnxArgmax: Int
            let onnxScore: Float
        }

        let onnx: Onnx
        let samples: [Sample]
    }

    private var bundle: Bundle { Bundle(for: OnnxIOTests.self) }

    private func golden() throws -> Golden {
        let url = try XCTUnwrap(bundle.url(forResource: "golden", withExtension: "json"))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(Golden.self, from: Data(contentsOf: url))
    }

    private func contract() throws -> Contract {
        let assets = try XCTUnwrap(bundle.resourceURL?.appendingPathComponent("DemoAssets"))
        return try Contract.parse(Data(contentsOf: assets.appendingPathComponent(Contract.fileName)))
    }

    private func labels(_ contract: Contract) throws -> [String] {
        let assets = try XCTUnwrap(bundle.resourceURL?.appendingPathComponent("DemoAssets"))
        let text = try String(contentsOf: assets.appendingPathComponent(contract.labelsFile), encoding: .utf8)
        return try parseLabels(text, expectedCount: contract.numClasses)
    }

    func testEveryPixelNormalizesBitForBitAsPython() throws {
        let golden = try golden()
        let floats = Preprocess.normalize(Array(0...255), divisor: try contract().image.normalization.divisor)
        XCTAssertEqual(floats.map(\.bitPattern), golden.onnx.pixelFloat32.map(\.bitPattern))
    }

    func testInputBytesRoundTripAndDecodeGivesOurRuntimesAnswer() throws {
        let golden = try golden()
        let contract = try contract()
        let labels = try labels(contract)
        let spec = try XCTUnwrap(contract.onnx)
        XCTAssertEqual(spec.input, golden.onnx.input)
        XCTAssertEqual(spec.output, golden.onnx.output)
        XCTAssertEqual(OnnxIO.inputShape(spec.input).reduce(1, *), contract.image.height * contract.image.width)
        for sample in golden.samples {
            let floats = Preprocess.normalize(sample.pixels, divisor: contract.image.normalization.divisor)
            let data = OnnxIO.data(floats)
            XCTAssertEqual(data.count, 4 * floats.count)
            XCTAssertEqual(OnnxIO.floats(data).map(\.bitPattern), floats.map(\.bitPattern))
            let output = OnnxIO.data(sample.onnxOutputFloat32)
            let prediction = try OnnxIO.decode(OnnxIO.floats(output), labels: labels)
            XCTAssertEqual(prediction.classIndex, sample.onnxArgmax, sample.file)
            XCTAssertEqual(prediction.confidence, sample.onnxScore, sample.file)
        }
    }

    func testReportSaysWhetherTheBackendsAgree() throws {
        let golden = try golden()
        let labels = try labels(try contract())
        for sample in golden.samples {
            let tflite = Prediction(classIndex: sample.argmax, label: labels[sample.argmax], confidence: sample.confidence)
            let onnx = try OnnxIO.decode(sample.onnxOutputFloat32, labels: labels)
            let report = Report(tflite: .answer(tflite), onnx: .answer(onnx))
            XCTAssertEqual(report.agree, sample.argmax == sample.onnxArgmax, sample.file)
            XCTAssertEqual(report.scoreDifference, abs(sample.confidence - sample.onnxScore))
        }
        XCTAssertNil(Report(tflite: .unavailable("refused"), onnx: nil).agree)
    }

    func testAModelThatDisagreesWithTheContractIsRefused() throws {
        let spec = try XCTUnwrap(try contract().onnx)
        XCTAssertThrowsError(try OnnxIO.checkNames(inputs: ["x"], outputs: [spec.output.name], spec: spec))
        XCTAssertThrowsError(try OnnxIO.checkOutput(isFloat: false, shape: [1, 10], spec: spec))
        XCTAssertThrowsError(try OnnxIO.checkOutput(isFloat: true, shape: [1, 9], spec: spec))
        XCTAssertThrowsError(try Contract.verify(Data([1, 2, 3]), file: spec.file, bytes: spec.bytes, sha256: spec.sha256)) { error in
            XCTAssertTrue("\(error)".contains("has 3 bytes"))
        }
    }
}
