// The version the executable reports (--version) and /openapi.json carries.
export const mailspoolVersion = "0.1.0";
