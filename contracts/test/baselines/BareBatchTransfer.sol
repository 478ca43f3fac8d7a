// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title Bare batch payout in the HUMAN Protocol bulkPayOut shape, TEST ONLY
/// @notice Test-only baseline for the gas report (scripts/gas-report.js): never deployed anywhere but
/// the report's in-process chain. One token transfer per recipient from this contract's own balance,
/// and deliberately nothing else: no record of what was paid, so re-sending a batch pays it twice.
/// That missing protection is what a push payout of ours has to add within its budget.
contract BareBatchTransfer {
    using SafeERC20 for IERC20;

    /// @notice The only account allowed to pay out.
    address public immutable payer;

    error BareBatchNotPayer(address caller);
    error BareBatchLengthMismatch(uint256 recipients, uint256 amounts);

    constructor(address payer_) {
        payer = payer_;
    }

    /// @notice Sends `amounts[i]` of `token` to `recipients[i]`, for every i. Only the payer.
    function bulkPayOut(IERC20 token, address[] calldata recipients, uint256[] calldata amounts) external {
        if (msg.sender != payer) revert BareBatchNotPayer(msg.sender);
        if (recipients.length != amounts.length) revert BareBatchLengthMismatch(recipients.length, amounts.length);
        for (uint256 i = 0; i < recipients.length; ++i) {
            token.safeTransfer(recipients[i], amounts[i]);
        }
    }
}
