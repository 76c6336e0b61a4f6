package com.kestrel.fashiondemo

import java.io.File
import javax.imageio.ImageIO
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

class PreprocessTest {
    private val contract get() = Bundled.contract

    @Test
    fun goldenSamplesQuantizeByteForByte() {
        assertTrue("golden.json has no samples", Bundled.samples.isNotEmpty())
        for (sample in Bundled.samples) {
            val bytes = Preprocess.quantize(
                sample.pixels, contract.divisor, Bundled.input.scale, Bundled.input.zeroPoint,
            )
            assertArrayEquals("int8 input of ${sample.file}", sample.inputInt8, bytes)
        }
    }

    @Test
    fun everyPixelQuantizesLikePythonForOtherScalesIncludingTies() {
        val pixels = IntArray(256) { it }
        assertTrue(Bundled.quantizeCases.size >= 5)
        for (case in Bundled.quantizeCases) {
            val bytes = Preprocess.quantize(pixels, contract.divisor, case.scale, case.zeroPoint)
            assertArrayEquals("scale ${case.scale}, zero point ${case.zeroPoint}", case.int8, bytes)
        }
    }

    @Test
    fun bundledPngsHoldTheGoldenPixels() {
        for (sample in Bundled.samples) {
            val image = ImageIO.read(File(Bundled.assets, sample.file))
                ?: failTest("${sample.file} is not a readable PNG")
            assertEquals(contract.width, image.width)
            assertEquals(contract.height, image.height)
            // The raster, not getRGB: Java colour-manages gray images in getRGB.
            val pixels = IntArray(image.width * image.height) {
                image.raster.getSample(it % image.width, it / image.width, 0)
            }
            assertArrayEquals(sample.file, sample.pixels, pixels)
        }
    }

    @Test
    fun grayArgbDecodesToTheSameGray() {
        for (sample in Bundled.samples) {
            val argb = IntArray(sample.pixels.size) {
                val v = sample.pixels[it]
                (0xFF shl 24) or (v shl 16) or (v shl 8) or v
            }
            assertArrayEquals(sample.pixels, Preprocess.grayFromArgb(argb))
        }
    }

    @Test
    fun whiteCanvasIsInvertedToTheModelsPolarity() {
        assertEquals(Polarity.LIGHT_ON_DARK, contract.polarity)
        for (sample in Bundled.samples) {
            val drawn = IntArray(sample.pixels.size) { 255 - sample.pixels[it] }
            val pixels = Preprocess.toPolarity(drawn, Polarity.DARK_ON_LIGHT, contract.polarity)
            val bytes = Preprocess.quantize(
                pixels, contract.divisor, Bundled.input.scale, Bundled.input.zeroPoint,
            )
            assertArrayEquals(sample.file, sample.inputInt8, bytes)
        }
    }

    @Test
    fun canvasDownscaleRecoversAnUpscaledSample() {
        val factor = 10
        val w = contract.width
        val h = contract.height
        for (sample in Bundled.samples) {
            val big = IntArray(w * factor * h * factor) {
                val x = it % (w * factor) / factor
                val y = it / (w * factor) / factor
                sample.pixels[y * w + x]
            }
            val small = Preprocess.resizeArea(big, w * factor, h * factor, w, h)
            assertArrayEquals(sample.file, sample.pixels, small)
        }
    }

    @Test
    fun resizeAreaAveragesBlocksWithRounding() {
        // 4x2 -> 2x1: blocks {0, 1, 10, 11} and {2, 3, 12, 13} (means 5.5 and 7.5, round up).
        val gray = intArrayOf(0, 1, 2, 3, 10, 11, 12, 13)
        assertArrayEquals(intArrayOf(6, 8), Preprocess.resizeArea(gray, 4, 2, 2, 1))
    }

    @Test
    fun roundsHalfAwayFromZero() {
        val cases = mapOf(
            0.5f to 1, 1.5f to 2, 2.5f to 3, -0.5f to -1, -2.5f to -3,
            0.49999997f to 0, 2.4999998f to 2, 3.0f to 3,
        )
        for ((value, expected) in cases) {
            assertEquals("round($value)", expected, Preprocess.roundHalfAwayFromZero(value))
        }
    }

    @Test
    fun quantizeClampsToInt8() {
        val bytes = Preprocess.quantize(intArrayOf(0, 255), 255f, 1f / 1024f, 0)
        assertArrayEquals(byteArrayOf(0, 127), bytes)
        val low = Preprocess.quantize(intArrayOf(0), 255f, 1f / 255f, -200)
        assertArrayEquals(byteArrayOf(-128), low)
    }
}
