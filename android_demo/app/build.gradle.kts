plugins {
    id("com.android.application")
}

android {
    namespace = "com.kestrel.fashiondemo"
    compileSdk = 36

    defaultConfig {
        applicationId = "com.kestrel.fashiondemo"
        minSdk = 23
        targetSdk = 36
        versionCode = 1
        versionName = "1.0"
    }

    androidResources {
        // Uncompressed in the APK, so MainActivity can memory-map the model with openFd().
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
    // LiteRT (formerly TensorFlow Lite): the org.tensorflow.lite Interpreter API on CPU.
    implementation("com.google.ai.edge.litert:litert:2.3.0")

    // Unit tests run on the JVM against the bundled assets and golden data (src/test/resources).
    testImplementation("junit:junit:4.13.2")
}
