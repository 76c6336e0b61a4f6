import XCTest

/// Checks Preprocess.swift and Contract.swift against the golden data compiler/bundle.py wrote
/// from the real model (golden.json) and the bundled DemoAssets: the same checks as the Android
/// app's JUnit tests, so both apps provably feed the model the same int8 bytes.
final class PreprocessTests: XCTestCase {
    struct Golden: Decodable {
        struct Sample: Decodable {
            let file: String
            let label: Int
            let pixels: [Int]
            let inputInt8: [Int]
            let outputInt8: [Int]
            let argmax: Int
            let confidence: Float
        }

        struct QuantizeCase: Decodable {
            let scale: Float
            let zeroPoint: Int
            let int8: [Int]
        }

        let input: Contract.TensorSpec
        let output: Contract.TensorSpec
        let samples: [Sample]
        let quantizeCases: [QuantizeCase]
    }

    private var bundle: Bundle { Bundle(for: PreprocessTests.self) }

    private func golden() throws -> Golden {
        let url = try XCTUnwrap(bundle.url(forResource: "golden", withExtension: "json"),
                                "golden.json is not in the test bundle: run compiler.bundle first")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(Golden.self, from: Data(contentsOf: url))
    }

    private func contract() throws -> Contract {
        let assets = try XCTUnwrap(bundle.resourceURL?.appendingPathComponent("DemoAssets"))
        return try Contract.parse(Data(contentsOf: assets.appendingPathComponent(Contract.fileName)))
    }

    func testGoldenSamplesQuantizeByteForByte() throws {
        let golden = try golden()
        let contract = try contract()
        XCTAssertFalse(golden.samples.isEmpty)
        XCTAssertEqual(golden.input, contract.model.input)
        for sample in golden.samples {
            let bytes = Preprocess.quantize(sample.pixels, divisor: contract.image.normalization.divisor,
                                            scale: golden.input.scale, zeroPoint: golden.input.zeroPoint)
            XCTAssertEqual(bytes.map { Int($0) }, sample.inputInt8, sample.file)
        }
    }

    func testEveryPixelQuantizesLikePythonForOtherScalesIncludingTies() throws {
        let golden = try golden()
        let divisor = try contract().image.normalization.divisor
        XCTAssertGreaterThanOrEqual(golden.quantizeCases.count, 5)
        for c in golden.quantizeCases {
            let bytes = Preprocess.quantize(Array(0...255), divisor: divisor, scale: c.scale, zeroPoint: c.zeroPoint)
            XCTAssertEqual(bytes.map { Int($0) }, c.int8, "scale \(c.scale), zero point \(c.zeroPoint)")
        }
    }

    func testWhiteCanvasIsInvertedToTheModelsPolarity() throws {
        let golden = try golden()
        let contract = try contract()
        for sample in golden.samples {
            let drawn = sample.pixels.map { 255 - $0 }
            let pixels = Preprocess.toPolarity(drawn, from: .darkOnLight, to: contract.polarity)
            let bytes = Preprocess.quantize(pixels, divisor: contract.image.normalization.divisor,
                                            scale: golden.input.scale, zeroPoint: golden.input.zeroPoint)
            XCTAssertEqual(bytes.map { Int($0) }, sample.inputInt8, sample.file)
        }
    }

    func testCanvasDownscaleRecoversAnUpscaledSample() throws {
        let golden = try golden()
        let contract = try contract()
        let (w, h, factor) = (contract.image.width, contract.image.height, 10)
        for sample in golden.samples {
            let big = (0..<(w * factor * h * factor)).map { i -> Int in
                let x = i % (w * factor) / factor
                let y = i / (w * factor) / factor
                return sample.pixels[y * w + x]
            }
            let small = Preprocess.resizeArea(big, width: w * factor, height: h * factor, outWidth: w, outHeight: h)
            XCTAssertEqual(small, sample.pixels, sample.file)
        }
    }

    func testGrayARGBDecodesToTheSameGray() throws {
        for sample in try golden().samples {
            let argb = sample.pixels.map { v -> UInt32 in
                let g = UInt32(v)
                return 0xFF00_0000 | (g << 16) | (g << 8) | g
            }
            XCTAssertEqual(Preprocess.grayFromARGB(argb), sample.pixels)
        }
    }

    func testRoundsHalfAwayFromZero() {
        let cases: [(Float, Int)] = [(0.5, 1), (1.5, 2), (2.5, 3), (-0.5, -1), (-2.5, -3),
                                     (0.49999997, 0), (2.4999998, 2), (3.0, 3)]
        for (value, expected) in cases {
            XCTAssertEqual(Preprocess.roundHalfAwayFromZero(value), expected, "round(\(value))")
        }
    }

    func testLabelsMatchTheContract() throws {
        let contract = try contract()
        let assets = try XCTUnwrap(bundle.resourceURL?.appendingPathComponent("DemoAssets"))
        let text = try String(contentsOf: assets.appendingPathComponent(contract.labelsFile), encoding: .utf8)
        let labels = try parseLabels(text, expectedCount: contract.numClasses)
        XCTAssertEqual(Set(labels).count, contract.numClasses)
        XCTAssertThrowsError(try parseLabels("a\nb\n", expectedCount: 3))
    }
}
