import Delivery
import Foundation
import Logging
import Notifications
import RotationEngine
import RotationHistory
import RotationPolicy
import SCIMRotatorCore

enum TimeSpanParser {
    static func parse(_ text: String) -> Double? {
        TimeSpan(parsing: text)?.timeInterval
    }
}
