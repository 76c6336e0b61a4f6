plugins {
    id("com.android.application")
}

android {
    namespace = "com.kestrel.fashiondemo"
    compileSdk = 36

    defaultConfig {
        applicationId = "com.kestrel.fashiondemo"
        // LiteRT 2.x AARs declare minSdk 24; the manifest merger refuses a lower one. Every
        // dependency's declared requirement is in dependencies.json (checked by tests/demos).
        minSdk = 24
        targetSdk = 36
        versionCode = 1
        versionName = "1.0"
    }

    androidResources {
        // Uncompressed in the APK, so LiteRT can map the model straight from the asset.
        noCompress += "tflite"
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }
}

dependencies {
    // LiteRT 2.x (formerly TensorFlow Lite): the CompiledModel API, int8 model on the CPU.
    implementation("com.google.ai.edge.litert:litert:2.3.0")
    // ONNX Runtime Mobile (full build: runs plain .onnx, no .ort conversion needed).
    implementation("com.microsoft.onnxruntime:onnxruntime-android:1.24.2")

    // Unit tests run on the JVM against the bundled assets and golden data (src/test/resources).
    testImplementation("junit:junit:4.13.2")
}
