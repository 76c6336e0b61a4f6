import SwiftUI

@main
struct FashionDemoApp: App {
    var body: some Scene {
        WindowGroup {
            ContentView()
        }
    }
}
