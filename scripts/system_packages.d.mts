export declare const SYSTEM_PACKAGES: ReadonlyArray<{ readonly name: string; present(): boolean }>;
export declare function installLine(): string;
export declare function missingPackages(): string[];
