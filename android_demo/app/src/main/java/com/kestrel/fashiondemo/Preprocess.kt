package com.kestrel.fashiondemo

/** Which way round an image is: the model wants what contract.json says (Fashion-MNIST: light on dark). */
enum class Polarity {
    LIGHT_ON_DARK,
    DARK_ON_LIGHT;

    companion object {
        fun fromContract(value: String): Polarity = when (value) {
            "light_on_dark" -> LIGHT_ON_DARK
            "dark_on_light" -> DARK_ON_LIGHT
            else -> throw ContractException(
                "polarity must be \"light_on_dark\" or \"dark_on_light\". Received: \"$value\""
            )
        }
    }
}

/**
 * Pixels to model input, with no Android types: the UI hands in ARGB ints (Bitmap.getPixels) and
 * gets the int8 bytes the model takes. Mirrored line for line by ios_demo's Preprocess.swift, and
 * checked byte for byte against the golden data written by compiler/bundle.py.
 */
object Preprocess {
    /** ARGB_8888 pixels to 0..255 gray (Rec. 601 luma, integer math; gray stays gray exactly). */
    fun grayFromArgb(argb: IntArray): IntArray = IntArray(argb.size) { i ->
        val p = argb[i]
        val r = (p shr 16) and 0xFF
        val g = (p shr 8) and 0xFF
        val b = p and 0xFF
        (299 * r + 587 * g + 114 * b + 500) / 1000
    }

    /**
     * Box-filter downscale of a gray image: each output pixel is the rounded mean of the source
     * block it covers (block edges at floor(i * size / outSize)). Integer math, so Kotlin and
     * Swift agree exactly.
     */
    fun resizeArea(gray: IntArray, width: Int, height: Int, outWidth: Int, outHeight: Int): IntArray {
        require(gray.size == width * height) {
            "gray has ${gray.size} pixels; expected $width x $height = ${width * height}"
        }
        require(width >= outWidth && height >= outHeight && outWidth > 0 && outHeight > 0) {
            "can only shrink: ${width}x$height to ${outWidth}x$outHeight"
        }
        val out = IntArray(outWidth * outHeight)
        for (oy in 0 until outHeight) {
            val y0 = oy * height / outHeight
            val y1 = (oy + 1) * height / outHeight
            for (ox in 0 until outWidth) {
                val x0 = ox * width / outWidth
                val x1 = (ox + 1) * width / outWidth
                var sum = 0
                for (y in y0 until y1) for (x in x0 until x1) sum += gray[y * width + x]
                val count = (y1 - y0) * (x1 - x0)
                out[oy * outWidth + ox] = (sum + count / 2) / count
            }
        }
        return out
    }

    /** Inverts 0..255 gray when the source's polarity is not the model's (a white drawing canvas). */
    fun toPolarity(gray: IntArray, from: Polarity, to: Polarity): IntArray =
        if (from == to) gray.copyOf() else IntArray(gray.size) { 255 - gray[it] }

    /**
     * 0..255 gray (model polarity) to the ONNX model's float32 input, p / divisor in float32
     * (compiler/bundle.py's normalize_pixels; golden.json holds all 256 values).
     */
    fun normalize(gray: IntArray, divisor: Float): FloatArray = FloatArray(gray.size) { i ->
        val p = gray[i]
        require(p in 0..255) { "pixel $i is $p; expected 0..255" }
        p.toFloat() / divisor
    }

    /** Rounds half away from zero, as TFLite's quantizer and Swift's rounded() do. */
    fun roundHalfAwayFromZero(value: Float): Int =
        if (value < 0f) -Math.round(-value) else Math.round(value)

    /**
     * 0..255 gray (model polarity) to int8: q = round(x / divisor / scale) + zeroPoint, clamped to
     * -128..127, in float32 arithmetic in exactly this order (compiler/bundle.py's
     * quantize_pixels does the same, so the golden bytes match bit for bit).
     */
    fun quantize(gray: IntArray, divisor: Float, scale: Float, zeroPoint: Int): ByteArray {
        require(scale > 0f) { "input scale must be > 0; received $scale" }
        return ByteArray(gray.size) { i ->
            val p = gray[i]
            require(p in 0..255) { "pixel $i is $p; expected 0..255" }
            val q = roundHalfAwayFromZero(p.toFloat() / divisor / scale) + zeroPoint
            q.coerceIn(-128, 127).toByte()
        }
    }
}
